//! Every attack the project offers, in one list: its name, what the menus call it, the fixed
//! id of its random streams, the goals it can pursue, its defaults and where they come from.
//! Parsing names, the protocol's streams, the CLI's help and the page's menus all read it, so a
//! new attack is its own file plus one entry here.

use super::{AttackKind, DeepFool, Fgsm, Jsma, Lbfgs};

/// One attack of the catalogue.
#[derive(Clone, Copy, Debug)]
pub struct AttackEntry {
    /// The name runs, reports and the JS API use (`lbfgs`).
    pub name: &'static str,
    /// Other spellings accepted when parsing.
    pub aliases: &'static [&'static str],
    /// What menus show (`L-BFGS`).
    pub title: &'static str,
    /// One line for menus and help: what it does and what it costs.
    pub summary: &'static str,
    /// Names the attack's random streams in a protocol run. Fixed forever: changing one changes
    /// every published number of that attack.
    pub stream_id: u64,
    /// Whether it can pursue a target class (top-3 every attack can).
    pub targeted: bool,
    /// One of the paper's four.
    pub in_paper: bool,
    /// Ticked in the page's experiment by default (cheap enough for a first run in a tab).
    pub page_default: bool,
    /// Where its defaults come from.
    pub source: &'static str,
    /// The attack with its defaults.
    pub make: fn() -> AttackKind,
}

/// The catalogue, in the paper's order, then the extras.
pub const ATTACKS: [AttackEntry; 5] = [
    AttackEntry {
        name: "lbfgs",
        aliases: &["l-bfgs"],
        title: "L-BFGS",
        summary: "box-constrained L-BFGS-B on c·CE + MSE with a search over c (slow: thousands of model calls per image)",
        stream_id: 0,
        targeted: true,
        in_paper: true,
        page_default: false,
        source: "Foolbox 0.8 LBFGSAttack: epsilon 1e-5, at most 150 iterations per c, c from 2·epsilon doubled up to 30 times then bisected; scipy's fmin_l_bfgs_b (m = 15) on the objective × 1e10",
        make: || AttackKind::Lbfgs(Lbfgs::default()),
    },
    AttackEntry {
        name: "fgsm",
        aliases: &[],
        title: "FGSM",
        summary: "the sign of the loss gradient, the smallest successful ε of a 1,000-step sweep",
        stream_id: 1,
        targeted: true,
        in_paper: true,
        page_default: true,
        source: "Foolbox 0.8 GradientSignAttack: 1,000 ε linearly up to 1, the untargeted direction even for a target",
        make: || AttackKind::Fgsm(Fgsm::default()),
    },
    AttackEntry {
        name: "jsma",
        aliases: &[],
        title: "JSMA",
        summary: "one pixel per step from the saliency map, as Foolbox 0.8 (fast)",
        stream_id: 2,
        targeted: true,
        in_paper: true,
        page_default: true,
        source: "Foolbox 0.8 SaliencyMapAttack (fast): θ = 0.1, 7 changes per pixel, 2,000 steps",
        make: || AttackKind::Jsma(Jsma::default()),
    },
    AttackEntry {
        name: "deepfool",
        aliases: &[],
        title: "DeepFool",
        summary: "L2 steps to the nearest linearised boundary (untargeted: top-3 only)",
        stream_id: 3,
        targeted: false,
        in_paper: true,
        page_default: true,
        source: "Foolbox 0.8 DeepFoolAttack: 100 steps, overshoot 0.05; plus 1e-4 past the boundary (Foolbox 3's guard, a named deviation)",
        make: || AttackKind::DeepFool(DeepFool::default()),
    },
    AttackEntry {
        name: "jsma-pairs",
        aliases: &[],
        title: "JSMA (pixel pairs)",
        summary: "Papernot et al.'s pixel-pair saliency map",
        stream_id: 4,
        targeted: true,
        in_paper: false,
        page_default: false,
        source: "Papernot et al. 2016's pixel pairs, with Foolbox's θ = 0.1 and a budget of γ = 14.5 % of the pixels",
        make: || AttackKind::Jsma(Jsma::pairs()),
    },
];

/// The entry named `name` (or one of its aliases; case and spaces ignored).
pub fn attack(name: &str) -> Option<&'static AttackEntry> {
    let name = name.trim().to_ascii_lowercase();
    ATTACKS
        .iter()
        .find(|a| a.name == name || a.aliases.contains(&name.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::Attack;

    #[test]
    fn entries_are_consistent() {
        for (i, a) in ATTACKS.iter().enumerate() {
            let made = (a.make)();
            assert_eq!(made.name(), a.name, "an entry makes its own attack");
            assert_eq!(made.supports_targeted(), a.targeted, "{}", a.name);
            assert_eq!(attack(a.name).unwrap().name, a.name);
            for b in &ATTACKS[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.stream_id, b.stream_id, "{} and {}", a.name, b.name);
            }
        }
        assert_eq!(attack(" L-BFGS ").unwrap().name, "lbfgs");
        assert!(attack("cw").is_none());
    }
}

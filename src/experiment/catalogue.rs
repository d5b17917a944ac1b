//! What front ends offer, from the library's own lists: attacks (the attack catalogue, with
//! their actual defaults), goals, dropout schemes and attacker modes. The page builds its menus,
//! its About text and its chart series from it; the CLI its help.

use serde::Serialize;

use super::protocol::Goal;
use crate::attack::Mode;
use crate::attack::catalogue::ATTACKS;
use crate::model::DropoutScheme;

#[derive(Clone, Debug, Serialize)]
pub struct Catalogue {
    pub attacks: Vec<AttackInfo>,
    pub goals: Vec<Named>,
    pub schemes: Vec<SchemeInfo>,
    pub modes: Vec<Named>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AttackInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
    /// Goals it can pursue (names of [`Goal`]).
    pub goals: Vec<&'static str>,
    pub in_paper: bool,
    /// Ticked in the page's experiment by default.
    pub page_default: bool,
    pub source: &'static str,
    /// Its parameters with their default values, as a run's configuration records them.
    pub defaults: serde_json::Value,
}

#[derive(Clone, Debug, Serialize)]
pub struct Named {
    pub name: &'static str,
    pub title: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct SchemeInfo {
    pub name: &'static str,
    pub rates: DropoutScheme,
}

/// The catalogue.
pub fn catalogue() -> Catalogue {
    Catalogue {
        attacks: ATTACKS
            .iter()
            .map(|a| AttackInfo {
                name: a.name,
                title: a.title,
                summary: a.summary,
                goals: Goal::ALL
                    .iter()
                    .filter(|g| a.targeted || **g != Goal::Targeted)
                    .map(|g| g.name())
                    .collect(),
                in_paper: a.in_paper,
                page_default: a.page_default,
                source: a.source,
                defaults: match serde_json::to_value((a.make)()) {
                    // `{"Jsma": {...}}` → the inner parameters.
                    Ok(serde_json::Value::Object(m)) => {
                        m.into_iter().next().map(|(_, v)| v).unwrap_or_default()
                    }
                    _ => serde_json::Value::Null,
                },
            })
            .collect(),
        goals: Goal::ALL
            .iter()
            .map(|g| Named {
                name: g.name(),
                title: g.title(),
            })
            .collect(),
        schemes: DropoutScheme::PRESETS
            .iter()
            .map(|(name, rates)| SchemeInfo {
                name,
                rates: *rates,
            })
            .collect(),
        modes: Mode::MENU
            .iter()
            .map(|(name, title)| Named { name, title })
            .collect(),
    }
}

/// `--attacks`' help: every attack of the catalogue with what it does.
pub fn attacks_help() -> String {
    let list: Vec<String> = ATTACKS
        .iter()
        .map(|a| format!("{} — {}", a.name, a.summary))
        .collect();
    format!("Attacks, comma-separated: {}", list.join("; "))
}

/// The paper's four attacks, as `--attacks` takes them.
pub fn paper_attacks() -> String {
    ATTACKS
        .iter()
        .filter(|a| a.in_paper)
        .map(|a| a.name)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::AttackKind;

    #[test]
    fn every_listed_name_parses_back() {
        let c = catalogue();
        for a in &c.attacks {
            let kind: AttackKind = a.name.parse().unwrap();
            assert_eq!(a.goals.contains(&"targeted"), kind.supports_targeted());
            assert!(a.defaults.is_object(), "{}", a.name);
        }
        for m in &c.modes {
            m.name.parse::<Mode>().unwrap();
        }
        for s in &c.schemes {
            assert_eq!(s.name.parse::<DropoutScheme>().unwrap(), s.rates);
        }
        assert_eq!(paper_attacks(), "lbfgs,fgsm,jsma,deepfool");
        assert!(attacks_help().contains("jsma-pairs"));
    }
}

//! The paper's published figures, for side-by-side display (Wang et al. 2019).

/// Table 1: (train %, test %) per preset scheme.
pub fn table1(scheme: &str) -> Option<(f64, f64)> {
    match scheme {
        "none" => Some((99.94, 99.28)),
        "input" => Some((99.87, 99.17)),
        "feature" => Some((99.88, 99.08)),
        "fc" => Some((99.76, 99.00)),
        "all" => Some((99.49, 98.77)),
        _ => None,
    }
}

/// The paper's scheme order, which its tables' columns follow.
pub const SCHEMES: [&str; 5] = ["none", "input", "feature", "fc", "all"];

fn scheme_column(scheme: &str) -> Option<usize> {
    SCHEMES.iter().position(|s| *s == scheme)
}

/// Table 2 (targeted) and Table 4 (top-3): MAD on the 0–255 scale, per attack and scheme.
pub fn mad(goal: &str, attack: &str, scheme: &str) -> Option<f64> {
    const TARGETED: [(&str, [f64; 5]); 3] = [
        ("lbfgs", [11.286, 16.038, 16.734, 18.512, 43.132]),
        ("fgsm", [50.098, 55.243, 64.510, 74.854, 75.377]),
        ("jsma", [10.563, 11.184, 10.899, 10.574, 11.000]),
    ];
    const TOP3: [(&str, [f64; 5]); 4] = [
        ("lbfgs", [27.572, 27.966, 30.757, 24.231, 27.203]),
        ("fgsm", [41.303, 36.855, 49.328, 35.568, 38.781]),
        ("jsma", [74.074, 40.496, 36.805, 27.73, 16.061]),
        ("deepfool", [11.867, 12.954, 13.381, 12.026, 13.369]),
    ];
    let rows: &[(&str, [f64; 5])] = match goal {
        "targeted" => &TARGETED,
        "top3" => &TOP3,
        _ => return None,
    };
    let column = scheme_column(scheme)?;
    rows.iter()
        .find(|(a, _)| *a == attack)
        .map(|(_, v)| v[column])
}

/// Table 3 (targeted) and Table 5 (top-3): % of the adversarials made under `generating`
/// that are recognised as their true label under `test`, one stochastic pass.
pub fn cross_recognition(goal: &str, attack: &str, test: &str, generating: &str) -> Option<f64> {
    // [test row][generating column][attack]: L-BFGS, FGSM, JSMA (, DeepFool).
    const TABLE3: [[[f64; 3]; 5]; 5] = [
        [
            [0.0, 0.0, 0.0],
            [2.0, 0.4, 5.3],
            [3.9, 0.9, 6.9],
            [3.5, 6.3, 4.1],
            [13.9, 9.9, 27.6],
        ],
        [
            [1.6, 54.0, 1.2],
            [4.3, 5.8, 7.8],
            [10.7, 18.3, 15.1],
            [7.6, 37.9, 13.6],
            [13.1, 16.6, 28.5],
        ],
        [
            [1.0, 58.7, 5.7],
            [5.1, 9.0, 21.8],
            [9.7, 12.2, 21.2],
            [8.4, 38.4, 21.4],
            [13.7, 18.0, 37.3],
        ],
        [
            [1.5, 5.6, 27.8],
            [7.1, 4.6, 51.8],
            [11.3, 9.3, 57.1],
            [7.1, 15.8, 34.7],
            [14.2, 15.1, 54.4],
        ],
        [
            [9.8, 74.2, 57.9],
            [11.3, 27.4, 63.1],
            [16.5, 35.9, 65.6],
            [9.8, 52.1, 51.2],
            [14.6, 23.9, 52.5],
        ],
    ];
    const TABLE5: [[[f64; 4]; 5]; 5] = [
        [
            [0.0, 0.0, 0.0, 0.0],
            [4.2, 2.0, 1.5, 0.0],
            [2.1, 3.9, 2.9, 0.0],
            [9.9, 3.5, 9.6, 0.2],
            [23.1, 13.9, 26.0, 1.8],
        ],
        [
            [1.2, 1.6, 0.6, 5.5],
            [5.4, 4.3, 2.9, 0.4],
            [4.6, 10.7, 5.7, 0.6],
            [13.1, 7.6, 16.9, 8.7],
            [23.3, 13.1, 25.1, 3.5],
        ],
        [
            [2.3, 1.0, 0.8, 5.8],
            [9.8, 5.1, 7.2, 1.5],
            [3.8, 9.7, 6.4, 0.1],
            [16.8, 8.4, 23.1, 10.8],
            [25.0, 13.7, 30.0, 4.8],
        ],
        [
            [1.9, 1.5, 0.6, 1.6],
            [6.5, 7.1, 3.6, 0.4],
            [4.7, 11.3, 3.5, 0.2],
            [13.1, 7.1, 12.3, 2.5],
            [24.1, 14.2, 24.9, 4.1],
        ],
        [
            [4.2, 9.8, 2.0, 20.4],
            [11.0, 11.3, 9.3, 5.7],
            [8.8, 16.5, 7.3, 5.7],
            [20.7, 9.8, 22.8, 24.1],
            [24.1, 14.6, 29.9, 10.2],
        ],
    ];
    let (row, column) = (scheme_column(test)?, scheme_column(generating)?);
    let a = ["lbfgs", "fgsm", "jsma", "deepfool"]
        .iter()
        .position(|a| *a == attack)?;
    match goal {
        "targeted" => TABLE3[row][column].get(a).copied(),
        "top3" => TABLE5[row][column].get(a).copied(),
        _ => None,
    }
}

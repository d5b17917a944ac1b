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

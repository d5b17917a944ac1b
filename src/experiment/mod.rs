//! Experiments: the paper's tables, computed and set beside the published figures.

pub mod catalogue;
pub mod estimate;
pub mod figures;
pub mod pages;
pub mod paper;
pub mod protocol;
pub mod report;
pub mod run;
pub mod table1;

pub use table1::{DEFAULT_REPEATS, Table1, Table1Config, Table1Progress, Table1Row, table1};

/// Rows as CSV (RFC 4180: a field holding a comma, quote or line break is quoted, its quotes
/// doubled). Hand-written, five lines: the `csv` crate turns on serde's default features, which
/// would rebuild all of burn for every user and CI run.
pub(crate) fn csv(rows: &[Vec<String>]) -> String {
    let field = |f: &String| {
        if f.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f.clone()
        }
    };
    rows.iter()
        .map(|row| row.iter().map(field).collect::<Vec<_>>().join(",") + "\n")
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_quotes_what_needs_it() {
        let rows = vec![
            vec!["0,0,0.3".to_string(), "plain".into(), "say \"hi\"".into()],
            vec!["a\nb".to_string(), String::new(), "1.5".into()],
        ];
        assert_eq!(
            super::csv(&rows),
            "\"0,0,0.3\",plain,\"say \"\"hi\"\"\"\n\"a\nb\",,1.5\n"
        );
    }
}

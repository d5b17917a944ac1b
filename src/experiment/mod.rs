//! Experiments: the paper's tables, computed and set beside the published figures.

pub mod figures;
pub mod paper;
pub mod protocol;
pub mod report;
pub mod table1;

pub use table1::{DEFAULT_REPEATS, Table1, Table1Config, Table1Progress, Table1Row, table1};

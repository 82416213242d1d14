//! Local learning from the run history alone (offline): outcome labels,
//! robust statistics and anomaly detection, as pure functions.
//!
//! | file | owns |
//! |---|---|
//! | [`outcome`] | the outcome rules: likely false positives and misses without feedback |
//! | [`robust`] | quantiles, median and MAD |
//! | [`anomaly`] | runs far outside their command's history; error templates never seen before |
//!
//! Nothing here touches the database, the network or a process: `store`
//! reads the inputs and writes the results, `commands::analyze` shows them.

pub mod anomaly;
pub mod outcome;
pub mod robust;

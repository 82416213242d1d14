//! Rules for a secret key name in syntax that is not a plain assignment.

use super::Builtin;

/// This file's rules, in priority order.
pub(super) fn rules() -> Vec<Builtin> {
    vec![]
}

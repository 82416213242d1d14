//! Entries for Terraform and OpenTofu: diagnostics (plain and in the `╷ │ ╵`
//! box), `terraform test` results.
//!
//! Owns the Terraform family only. Formats as printed by terraform 1.x
//! (checked on a real `terraform validate` with errors) and 0.11's
//! `Error: Error refreshing state: …`.

use super::{Entry, Severity};

/// terraform and its wrappers (`tofu` is canonicalised to `terraform`).
const TF: &[&str] = &["terraform", "terragrunt"];

/// Terraform entries, most specific first.
pub(super) const ENTRIES: &[Entry] = &[
    Entry {
        id: "terraform-test-failure",
        tool: "terraform test",
        severity: Severity::FailureSummary,
        regex: r"^Failure! [0-9]+ passed, [0-9]+ failed",
        excludes: &[],
        commands: TF,
        catches: "the `terraform test` total of a failed run: `Failure! 1 passed, 4 failed.`",
    },
    Entry {
        id: "terraform-test-run-fail",
        tool: "terraform test",
        severity: Severity::Error,
        regex: r#"^\s*(run "[^"]+"|\S+\.tftest\.hcl)\.\.\. fail$"#,
        excludes: &[],
        commands: TF,
        catches: "`  run \"failing_assertion\"... fail`, `main.tftest.hcl... fail`",
    },
    Entry {
        id: "terraform-error",
        tool: "terraform",
        severity: Severity::Error,
        regex: r"^[│╷ ]*Error: \S",
        excludes: &[],
        commands: TF,
        catches: "a diagnostic: `Error: Missing required provider`, `│ Error: Invalid reference` inside the box",
    },
    Entry {
        id: "terraform-warning",
        tool: "terraform",
        severity: Severity::Warning,
        regex: r"^[│╷ ]*Warning: \S",
        excludes: &[],
        commands: TF,
        catches: "`│ Warning: Deprecated attribute`",
    },
];

#[cfg(test)]
mod tests {
    use super::ENTRIES;
    use crate::patterns::test_support::check_fixtures;

    /// Lines from a real `terraform validate` (1.x) and in `terraform test`'s
    /// documented output.
    #[test]
    fn fixtures() {
        check_fixtures(
            ENTRIES,
            &[
                (
                    "terraform-test-failure",
                    "Failure! 0 passed, 1 failed.",
                    "Success! 2 passed, 0 failed.",
                ),
                (
                    "terraform-test-run-fail",
                    "  run \"failing_assertion\"... fail",
                    "  run \"fail_on_purpose\"... pass",
                ),
                (
                    "terraform-error",
                    "│ Error: Missing required provider",
                    "│ The CLI configuration file at \"/root/.terraformrc\" does not exist.",
                ),
                (
                    "terraform-error",
                    "Error: Error refreshing state: 4 error(s) occurred:",
                    "  # aws_instance.error_reporter will be created",
                ),
                (
                    "terraform-warning",
                    "│ Warning: Unable to open CLI configuration file",
                    "There are some problems with the CLI configuration:",
                ),
            ],
        );
    }
}

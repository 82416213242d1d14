//! Entries for containers and clusters: `docker build` (BuildKit and the
//! legacy builder), the docker CLI, kubectl (and klog), helm.
//!
//! Owns the containers family only. Formats from BuildKit's plain progress
//! output, the docker CLI 28 (checked on a real run without a daemon:
//! logrus `level=error` lines and `Cannot connect to the Docker daemon`),
//! kubectl 1.3x (checked without a cluster: klog `E1203 …` lines,
//! `The connection to the server … was refused`, `error: …`) and helm 3.

use super::{Entry, Severity};

/// docker and compatible CLIs (`podman` is canonicalised to `docker`).
const DOCKER: &[&str] = &["docker", "docker-compose", "buildah"];
/// kubectl and the tools that print its messages.
const KUBE: &[&str] = &["kubectl", "oc", "kustomize"];
/// helm.
const HELM: &[&str] = &["helm"];
/// Everything that talks to a Kubernetes API server (klog lines).
const KLOG: &[&str] = &["kubectl", "oc", "helm", "kustomize"];

/// Container entries, most specific first.
pub(super) const ENTRIES: &[Entry] = &[
    Entry {
        id: "docker-failed-to-solve",
        tool: "docker build",
        severity: Severity::FailureSummary,
        regex: r"^(ERROR: |error: )?failed to (solve|build): ",
        excludes: &[],
        commands: DOCKER,
        catches: "BuildKit's closing error: `ERROR: failed to solve: process \"/bin/sh -c make\" did not complete successfully: exit code: 2`",
    },
    Entry {
        id: "docker-buildkit-error",
        tool: "docker build",
        severity: Severity::Error,
        regex: r"^(#[0-9]+ )?([0-9]+\.[0-9]+ )?ERROR(: | \[)",
        excludes: &[],
        commands: DOCKER,
        catches: "a failed build step: `#8 ERROR: process \"/bin/sh -c false\" did not complete successfully: exit code: 1`, `ERROR [build 3/4] RUN make`",
    },
    Entry {
        id: "docker-legacy-nonzero",
        tool: "docker build",
        severity: Severity::FailureSummary,
        regex: r"^The command '.*' returned a non-zero code: [1-9][0-9]*",
        excludes: &[],
        commands: DOCKER,
        catches: "the legacy builder's `The command '/bin/sh -c make' returned a non-zero code: 2`",
    },
    Entry {
        id: "docker-cli-error",
        tool: "docker",
        severity: Severity::Error,
        regex: r#"^(Error response from daemon: |Cannot connect to the Docker daemon |docker: Error|Error: No such (container|image)|time="[^"]*" level=(error|fatal|panic) )"#,
        excludes: &[],
        commands: DOCKER,
        catches: "`Error response from daemon: …`, `Cannot connect to the Docker daemon at unix:///var/run/docker.sock.`, logrus `level=error` lines",
    },
    Entry {
        id: "kubectl-error",
        tool: "kubectl",
        severity: Severity::Error,
        regex: r"^(error: |Error from server( \(\w+\))?: |The connection to the server \S+ was refused|Unable to connect to the server: )",
        excludes: &[],
        commands: KUBE,
        catches: "`error: the path \"x.yaml\" does not exist`, `Error from server (NotFound): pods \"x\" not found`, `The connection to the server localhost:8080 was refused`",
    },
    Entry {
        id: "kubectl-pod-failing",
        tool: "kubectl",
        severity: Severity::Error,
        regex: r"^(\S+\s+)?\S+\s+[0-9]+/[0-9]+\s+(CrashLoopBackOff|Error|ImagePullBackOff|ErrImagePull|OOMKilled|CreateContainerConfigError|CreateContainerError|InvalidImageName|RunContainerError)\s",
        excludes: &[],
        commands: KUBE,
        catches: "a failing pod in `kubectl get pods`: `api-7d9f 0/1 CrashLoopBackOff 5 3m`",
    },
    Entry {
        id: "klog-error",
        tool: "kubectl",
        severity: Severity::Error,
        regex: r"^[EF][0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+\s+[0-9]+ \S+:[0-9]+\] ",
        excludes: &[],
        commands: KLOG,
        catches: "klog error and fatal lines: `E1203 06:58:10.915058 4930 memcache.go:265] …`",
    },
    Entry {
        id: "helm-failed",
        tool: "helm",
        severity: Severity::FailureSummary,
        regex: r"^Error: (INSTALLATION|UPGRADE|ROLLBACK|UNINSTALLATION) FAILED: ",
        excludes: &[],
        commands: HELM,
        catches: "`Error: UPGRADE FAILED: timed out waiting for the condition`",
    },
    Entry {
        id: "helm-error",
        tool: "helm",
        severity: Severity::Error,
        regex: r"^(Error: \S|\[ERROR\] \S)",
        excludes: &[],
        commands: HELM,
        catches: "`Error: chart \"x\" not found`, `helm lint`'s `[ERROR] templates/: …`",
    },
];

#[cfg(test)]
mod tests {
    use super::ENTRIES;
    use crate::patterns::test_support::check_fixtures;

    /// docker and kubectl lines from real runs without a daemon or cluster;
    /// BuildKit and helm lines in their documented formats.
    #[test]
    fn fixtures() {
        check_fixtures(
            ENTRIES,
            &[
                (
                    "docker-failed-to-solve",
                    "ERROR: failed to solve: process \"/bin/sh -c make\" did not complete successfully: exit code: 2",
                    "#5 DONE 0.1s",
                ),
                (
                    "docker-buildkit-error",
                    "#8 ERROR: process \"/bin/sh -c false\" did not complete successfully: exit code: 1",
                    "#8 0.412 make: Nothing to be done for 'error-pages'.",
                ),
                (
                    "docker-legacy-nonzero",
                    "The command '/bin/sh -c make' returned a non-zero code: 2",
                    "Step 2/4 : RUN make",
                ),
                (
                    "docker-cli-error",
                    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
                    "DEPRECATED: The legacy builder is deprecated and will be removed in a future release.",
                ),
                (
                    "docker-cli-error",
                    "time=\"2026-12-03T06:58:18Z\" level=error msg=\"Can't close tar writer: io: read/write on closed pipe\"",
                    "time=\"2026-12-03T06:58:18Z\" level=info msg=\"error pages copied\"",
                ),
                (
                    "kubectl-error",
                    "error: the path \"/nonexistent.yaml\" does not exist",
                    "deployment.apps/errors-api configured",
                ),
                (
                    "kubectl-pod-failing",
                    "api-7d9f8b-x2x 0/1 CrashLoopBackOff 5 (30s ago) 3m",
                    "error-handler-5c6d 1/1 Running 0 3m",
                ),
                (
                    "klog-error",
                    "E1203 06:58:10.915058    4930 memcache.go:265] \"Unhandled Error\" err=\"couldn't get current server API group list\"",
                    "I1203 06:58:10.915058    4930 request.go:700] Waited for 1.0s due to client-side throttling",
                ),
                (
                    "helm-failed",
                    "Error: UPGRADE FAILED: timed out waiting for the condition",
                    "Release \"x\" has been upgraded. Happy Helming!",
                ),
                (
                    "helm-error",
                    "[ERROR] templates/: template: x/templates/d.yaml:3:4: executing \"x\" at <.Values.y>: nil pointer",
                    "[INFO] Chart.yaml: icon is recommended",
                ),
            ],
        );
    }
}

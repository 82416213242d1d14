# The agent for CI runner images, two targets:
#
# - `layer`: only the binaries, to copy into a runner image you own:
#     docker build -f deploy/container/agent.Dockerfile --target layer -t earlyexit-agent-layer:0.1.0 .
#     # in the runner's Dockerfile:
#     COPY --from=earlyexit-agent-layer:0.1.0 /usr/local/bin/earlyexit /usr/local/bin/earlyexit
#     COPY --from=earlyexit-agent-layer:0.1.0 /usr/local/bin/ee /usr/local/bin/ee
#   (glibc-linked: any Debian, Ubuntu or RHEL based runner image runs it.)
# - `sidecar` (the default): `earlyexit agent` as a non-root sidecar next to
#   a runner, syncing the EARLYEXIT_HOME the runner's jobs write to
#   (deploy/kubernetes/base/ci-runner.yaml).
#
# Build context: the repository root (see .dockerignore).

FROM rust:1.94-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p earlyexit --bin earlyexit --bin ee \
 && strip target/release/earlyexit target/release/ee \
 && mkdir -p /home-dir

FROM scratch AS layer
COPY --from=build /src/target/release/earlyexit /usr/local/bin/earlyexit
COPY --from=build /src/target/release/ee /usr/local/bin/ee

FROM gcr.io/distroless/cc-debian12:nonroot AS sidecar
COPY --from=build /src/target/release/earlyexit /usr/local/bin/earlyexit
COPY --from=build --chown=65532:65532 /home-dir /earlyexit
ENV EARLYEXIT_HOME=/earlyexit
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/earlyexit"]
CMD ["agent", "--interval", "10s"]

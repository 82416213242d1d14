# The aggregator image: the learning engine's binary, non-root, distroless.
#
#   docker build -f deploy/container/aggregator.Dockerfile -t earlyexit-aggregator:0.1.0 .
#   docker run --rm earlyexit-aggregator:0.1.0 patterns list
#
# Build context: the repository root (see .dockerignore).

FROM rust:1.94-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p earlyexit-aggregator --bin earlyexit-aggregator \
 && mkdir -p /state && strip target/release/earlyexit-aggregator

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /src/target/release/earlyexit-aggregator /usr/local/bin/earlyexit-aggregator
COPY --from=build --chown=65532:65532 /state /var/lib/earlyexit-aggregator
WORKDIR /var/lib/earlyexit-aggregator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/earlyexit-aggregator"]
CMD ["--help"]

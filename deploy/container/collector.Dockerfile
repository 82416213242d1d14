# The collector image: a release build in a Rust image, run as a non-root
# user on a distroless runtime (glibc, CA certificates, no shell).
#
#   docker build -f deploy/container/collector.Dockerfile -t earlyexit-collector:0.1.0 .
#   docker run -p 7700:7700 -v ee-collector:/var/lib/earlyexit-collector earlyexit-collector:0.1.0
#
# Build context: the repository root (see .dockerignore).

FROM rust:1.94-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p earlyexit-collector --bin earlyexit-collector \
 && mkdir -p /state && strip target/release/earlyexit-collector

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /src/target/release/earlyexit-collector /usr/local/bin/earlyexit-collector
COPY --from=build --chown=65532:65532 /state /var/lib/earlyexit-collector
ENV EARLYEXIT_COLLECTOR_HOME=/var/lib/earlyexit-collector
VOLUME ["/var/lib/earlyexit-collector"]
USER 65532:65532
EXPOSE 7700 7701
ENTRYPOINT ["/usr/local/bin/earlyexit-collector"]
CMD ["serve", "--listen", "0.0.0.0:7700"]

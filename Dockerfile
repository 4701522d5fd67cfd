# syntax=docker/dockerfile:1
# loadtester image: build with the Rust toolchain, ship the binary alone on a distroless
# base (glibc, CA certificates, no shell, no package manager) as a non-root user.
#   docker build -t loadtester:latest .
#   docker run --rm loadtester:latest --help
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# BuildKit cache mounts keep the registry and compiled dependencies between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin loadtester \
    && cp target/release/loadtester /loadtester \
    && strip /loadtester

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /loadtester /usr/local/bin/loadtester
# distroless' `nonroot` user (65532); the Kubernetes manifests run as the same user.
USER 65532:65532
WORKDIR /home/nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/loadtester"]
CMD ["--help"]

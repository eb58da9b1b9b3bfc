# keeper-azmon for pipelines that run images: the static (musl) operator's build, without the simulator, on
# distroless's static image (CA certificates, /etc/passwd with a non-root user, no shell).
#
#   docker build --build-arg KEEPER_AZMON_BUILD_COMMIT=$(git rev-parse --short=7 HEAD) -t keeper-azmon .
#
# .dockerignore leaves .git out of the context, so the commit `--version` names comes from the build argument
# ("unknown" without it).

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
ARG KEEPER_AZMON_BUILD_COMMIT=unknown
ENV KEEPER_AZMON_BUILD_COMMIT=${KEEPER_AZMON_BUILD_COMMIT}
RUN cargo build --release --locked --no-default-features --target x86_64-unknown-linux-musl \
 && cp target/x86_64-unknown-linux-musl/release/keeper-azmon /keeper-azmon

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /keeper-azmon /usr/local/bin/keeper-azmon
# distroless's `nonroot` user (65532); the state file goes where the pipeline mounts a writable directory.
USER nonroot:nonroot
WORKDIR /work
ENTRYPOINT ["keeper-azmon"]

# Vigie container image: build in a full Rust image, run in a slim non-root one.
#   docker build -t vigie .
#   docker run -v $PWD/vigie.yaml:/etc/vigie/vigie.yaml:ro -p 8080:8080 -p 9090:9090 vigie

FROM rust:1.95-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake=3.25.* \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p vigie \
    && install -m 0755 target/release/vigie /usr/local/bin/vigie
# Sanity step: the binary runs and the bundled configuration is valid.
RUN /usr/local/bin/vigie check -c config/docker.yaml

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311* \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 vigie \
    && useradd --system --uid 10001 --gid vigie --no-create-home --shell /usr/sbin/nologin vigie
COPY --from=build /usr/local/bin/vigie /usr/local/bin/vigie
COPY config/docker.yaml /etc/vigie/vigie.yaml
USER 10001:10001
EXPOSE 8080 8443 9090
ENV VIGIE_CONFIG=/etc/vigie/vigie.yaml
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/vigie", "health", "--address", "127.0.0.1:9090", "--path", "/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/vigie"]
CMD ["run"]

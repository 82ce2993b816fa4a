# customs as a container: the CLI, and `customs server` by default.
# docker build -t customs .
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libcrypt-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags "-s -w" -o /out/customs ./cmd/customs

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libcrypt1 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/customs --uid 10001 customs
COPY --from=build /out/customs /usr/local/bin/customs
USER customs
ENV XDG_DATA_HOME=/var/lib XDG_CACHE_HOME=/var/lib/customs/cache
VOLUME /var/lib/customs
EXPOSE 8080
ENTRYPOINT ["customs"]
CMD ["server", "--listen", "0.0.0.0:8080", "--insecure-listen"]

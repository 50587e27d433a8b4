# An image of the rabta binary: static (the SQLite driver is pure Go, so no cgo), run as
# a non-root user, with espeak-ng and sox for the voice alerts, data in /var/lib/rabta. Not built in this project's CI (no Docker engine
# there); `go build` with the same flags is.
#
#   docker build -t rabta .
#   docker run -p 8080:8080 -p 1883:1883 -v rabta-data:/var/lib/rabta -e RABTA_ADMIN_KEY=... rabta
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o /out/rabta ./cmd/rabta

# Debian slim, not distroless: the voice alerts (docs/voice.md) run Debian's espeak-ng to speak
# each alert in Urdu, English and Chinese, and sox to convert and check the audio; neither is
# in a distroless image. Without them the node runs, but renders no audio.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng sox ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --home-dir /var/lib/rabta nonroot \
 && install -d -o nonroot -g nonroot -m 0700 /var/lib/rabta
COPY --from=build /out/rabta /usr/local/bin/rabta
USER nonroot:nonroot
VOLUME /var/lib/rabta
ENV RABTA_DATA_DIR=/var/lib/rabta \
    RABTA_HTTP_ADDR=0.0.0.0:8080 \
    RABTA_MQTT_ADDR=0.0.0.0:1883 \
    RABTA_NATS_ADDR=0.0.0.0:4222 \
    RABTA_LOG=json
EXPOSE 8080 1883 4222
ENTRYPOINT ["/usr/local/bin/rabta"]
CMD ["serve"]

# syntax=docker/dockerfile:1
# Build: docker build -t alertexport --build-arg VERSION=$(git describe --always) --build-arg COMMIT=$(git rev-parse HEAD) .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/alertexport ./cmd/alertexport \
 && mkdir -p /out/state

# distroless/static: CA certificates and tzdata, no shell, user nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/alertexport /usr/local/bin/alertexport
# Mount your own config over this one (it is the commented example).
COPY config.toml /etc/alertexport/config.toml
# data_dir = "./data" resolves here; mount a volume to keep checkpoints and the embedded store.
COPY --from=build --chown=65532:65532 /out/state /var/lib/alertexport
WORKDIR /var/lib/alertexport
ENV ALERTEXPORT_CONFIG=/etc/alertexport/config.toml
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/alertexport"]
CMD ["run"]

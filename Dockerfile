# Build: docker build -t alertexport --build-arg VERSION=$(git describe --always) --build-arg COMMIT=$(git rev-parse HEAD) .
#
# Base images are pinned by digest: the tag beside it is for reading, the digest decides what is
# built on, so a moved tag changes nothing until someone reviews the new digest. To refresh:
#   docker buildx imagetools inspect golang:1.26-bookworm
#   docker buildx imagetools inspect gcr.io/distroless/static-debian12:nonroot
# and copy the "Digest:" line of each (the multi-platform index) after its tag. No "# syntax="
# line: it would pull a frontend image by tag; the builder's own frontend reads this file.
# cmd/alertexport/dockerfile_test.go fails on any FROM without a digest.
FROM golang:1.26-bookworm@sha256:d9c68c2c51161e12fd77e4c6320687c9cd86e1af1e3ad6e6cd63ff970641453c AS build
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
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
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

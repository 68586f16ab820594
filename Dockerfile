# syntax=docker/dockerfile:1
#
# The csi-provider-aws daemon: one static Go binary on a distroless base.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t csi-provider-aws .
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=... .
#
# The builder runs on the build machine's platform and cross-compiles
# (CGO_ENABLED=0), so multi-arch images need no emulation.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=0.1.0-dev
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/csi-provider-aws .

# static-debian12 holds only CA certificates (for AWS over TLS), tzdata and
# /etc/passwd: no shell, no package manager, nothing for an intruder to use.
#
# Why root (USER 0) and not the :nonroot variant (UID 65532): the daemon
# creates aws.sock in a hostPath directory that the node and the Secrets Store
# CSI Driver own as root (/var/run/secrets-store-csi-providers, mode 0755),
# and with --driver-writes-secrets=false it writes into pods' root-owned
# tmpfs mounts. fsGroup does not apply to hostPath volumes, so no other UID
# can do either. The reference provider's manifests, which this image must
# drop into, set no runAsUser, so the image's own user has to be the one that
# works. Everything else is taken away at run time: the chart drops every
# capability (root without CAP_DAC_OVERRIDE writes only where root owns the
# file), forbids privilege escalation, mounts the root filesystem read-only
# and applies the RuntimeDefault seccomp profile.
FROM gcr.io/distroless/static-debian12 AS runtime
COPY --from=build /out/csi-provider-aws /csi-provider-aws
USER 0:0
# The reference's manifests pass only args, so the entrypoint is the daemon.
ENTRYPOINT ["/csi-provider-aws"]

# syntax=docker/dockerfile:1
# Build:  docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t clienting .
# Run:    docker run --rm -p 8080:8080 -e CLIENTING_KAFKA_BROKERS=... -e CLIENTING_REDIS_ADDRS=... clienting

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so source changes do not invalidate the module cache.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /clienting ./cmd/clienting

# Static binary, CA certificates and tzdata, user nonroot (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /clienting /clienting
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/clienting"]
CMD ["run"]

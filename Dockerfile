# Minimal image: a static promolift binary on Debian slim, run as non-root.
# Build: docker build -t promolift .
# Run:   docker run -p 8080:8080 -e PROMOLIFT_DATABASE_URL=postgres://... promolift
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/promolift ./cmd/promolift

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home promolift
COPY --from=build /out/promolift /usr/local/bin/promolift
USER promolift
WORKDIR /data
EXPOSE 8080
ENTRYPOINT ["promolift", "serve", "--addr", ":8080"]

# handoff: proxy and app in one image; docker-compose.yml runs one container of each.
#   docker build -t handoff .
#   docker run --rm handoff proxy --help
# The image runs as the non-root user handoff (uid/gid 10001). The launchers exec java, so with
# the exec-form CMD the JVM is PID 1 and handles SIGTERM itself (docker stop takes about a second).

# ---- build: the shaded jars ----
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
# The whole tree (less .dockerignore's list): Maven reads every module's pom, even for -pl.
COPY . .
# Only the two jars: -am builds what they need; tests are the CI's job, not the image's.
RUN mvn -B -ntp -Dmaven.test.skip=true -pl proxy,app -am package

# ---- runtime ----
FROM eclipse-temurin:17-jre
# One fixed uid for every container of this image, so the proxy may use the app's socket: its
# file mode and the app's peer check (--allow-uid: by default its own uid) both go by uid. /run/handoff is where compose mounts the shared named
# volume: a new volume starts as a copy of this directory, owner and mode included.
RUN groupadd --system --gid 10001 handoff \
 && useradd --system --uid 10001 --gid handoff --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin handoff \
 && mkdir -p /run/handoff \
 && chown handoff:handoff /run/handoff \
 && chmod 0770 /run/handoff
COPY scripts/launch.sh scripts/proxy scripts/app scripts/docker-healthcheck /opt/handoff/bin/
COPY --from=build /src/proxy/target/handoff-proxy.jar /src/app/target/handoff-app.jar /opt/handoff/lib/
ENV PATH=/opt/handoff/bin:$PATH
USER handoff:handoff
WORKDIR /run/handoff
EXPOSE 1987
# No connection is opened: see scripts/docker-healthcheck.
HEALTHCHECK --interval=3s --timeout=3s --start-period=30s --retries=3 CMD ["docker-healthcheck"]
CMD ["app", "/run/handoff/pipe.sock"]

# The application image: one image for the migrate, prompts, web, agi and scheduler services
# (docker-compose.yml). BASE_IMAGE is any Debian-based image: the official Python one by default,
# or plain Debian (scripts/docker-provision.sh builds one where no registry answers), which
# gets Debian's Python 3.11. The project lives in a virtualenv either way: Debian refuses a
# system-wide pip install, and a venv keeps the image's own Python untouched.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# ffmpeg and espeak-ng build the prompt audio and convert recordings; curl is the web health
# check (no health check needs Python).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ffmpeg espeak-ng curl ca-certificates \
    && if ! python3 -c "import ensurepip" 2>/dev/null; then \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            python3 python3-venv; \
    fi \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/tongdai
ENV PATH=/opt/tongdai/bin:$PATH

# Certificate authorities of a TLS-inspecting network, if any (deploy/docker/trust/README.md).
COPY deploy/docker/trust/ /usr/local/share/ca-certificates/tongdai/
RUN update-ca-certificates >/dev/null

WORKDIR /srv/tongdai
COPY pyproject.toml README.md ./
COPY tongdai ./tongdai
COPY plumbing ./plumbing
COPY intake ./intake
COPY ivr ./ivr
COPY sms ./sms
COPY scheduler ./scheduler
COPY reports ./reports
COPY api ./api
COPY onestop ./onestop
COPY admin ./admin
RUN PIP_CERT=/etc/ssl/certs/ca-certificates.crt pip install --no-cache-dir --disable-pip-version-check --quiet . \
    && rm -rf build *.egg-info
COPY config.toml ./config.toml
COPY deploy/docker/app-entrypoint.sh /usr/local/bin/tongdai-entrypoint

# Named volumes take the owner of these folders the first time they are mounted.
RUN useradd --system --uid 10001 --home-dir /var/lib/tongdai tongdai \
    && mkdir -p /var/lib/tongdai /var/lib/tongdai-prompts /var/lib/tongdai-speech \
        /var/spool/asterisk/recording/tongdai \
    && chown tongdai:tongdai /var/lib/tongdai /var/lib/tongdai-prompts /var/lib/tongdai-speech
USER tongdai
ENV TONGDAI_DATA_DIR=/var/lib/tongdai \
    TONGDAI_CONFIG=/srv/tongdai/config.toml \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

ENTRYPOINT ["tongdai-entrypoint"]
CMD ["tongdai", "web", "--host", "0.0.0.0", "--port", "8000"]

# The application image: one image for the web, agi and scheduler services (docker-compose.yml).
FROM python:3.11-slim

# ffmpeg and espeak-ng build the prompt audio and convert recordings.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/tongdai
COPY pyproject.toml README.md ./
COPY tongdai ./tongdai
COPY plumbing ./plumbing
COPY intake ./intake
COPY ivr ./ivr
COPY sms ./sms
COPY scheduler ./scheduler
COPY reports ./reports
COPY admin ./admin
RUN pip install --no-cache-dir . && rm -rf build *.egg-info
COPY config.toml ./config.toml
COPY deploy/docker/app-entrypoint.sh /usr/local/bin/tongdai-entrypoint

# Named volumes take the owner of these folders the first time they are mounted.
RUN useradd --system --uid 10001 --home-dir /var/lib/tongdai tongdai \
    && mkdir -p /var/lib/tongdai/prompts/asterisk /var/spool/asterisk/recording/tongdai \
    && chown -R tongdai:tongdai /var/lib/tongdai
USER tongdai
ENV TONGDAI_DATA_DIR=/var/lib/tongdai \
    TONGDAI_CONFIG=/srv/tongdai/config.toml \
    PYTHONUNBUFFERED=1

ENTRYPOINT ["tongdai-entrypoint"]
CMD ["tongdai", "web", "--host", "0.0.0.0", "--port", "8000"]

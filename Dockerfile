# governance: one stateless instance; PostgreSQL and the signing keys come from outside.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin governance

COPY pyproject.toml README.md ./
COPY governance ./governance
COPY policies ./policies
RUN pip install . && mkdir -p /var/lib/governance && chown governance:governance /var/lib/governance

# Production defaults: JSON logs, listen on all interfaces, keys and local objects in a volume.
# Production requires GOVERNANCE_DATABASE_URL (postgresql://...), GOVERNANCE_JWT_SECRET,
# GOVERNANCE_MASTER_KEY_FILE, GOVERNANCE_CHECKPOINT_KEY_FILE and GOVERNANCE_CREDENTIAL_KEY_FILE
# (mount them as secrets):
# every replica must share one database and one set of keys. Set GOVERNANCE_PUBLIC_URL to
# the https address people reach the service at: sign-in links start with it, and cookies
# are Secure and __Host- prefixed behind it.
ENV GOVERNANCE_ENV=production \
    GOVERNANCE_HOST=0.0.0.0 \
    GOVERNANCE_PORT=8000 \
    GOVERNANCE_DATA_DIR=/var/lib/governance \
    GOVERNANCE_POLICY_DIR=/app/policies
VOLUME ["/var/lib/governance"]

USER governance
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('GOVERNANCE_PORT', '8000'), timeout=4)" || exit 1

CMD ["governance", "serve"]

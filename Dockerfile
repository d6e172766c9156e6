# One image for every Herald process: the API, the worker pools, beat and Flower.
# docker-compose.yml picks the process with `command:`; the default is the API.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HERALD_VAR_DIR=/var/lib/herald

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# The code belongs to root and is read-only for the service user; only the
# var directory (sandbox outbox, beat schedule, Flower's state) is writable.
# A named volume mounted on the outbox or flower/ starts out with this ownership.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home herald \
    && mkdir -p /var/lib/herald/outbox /var/lib/herald/flower \
    && chown -R herald:herald /var/lib/herald

COPY api/ api/
COPY common/ common/
COPY workers/ workers/
COPY migrations/ migrations/
# Read by gunicorn from the working directory: /metrics across workers, JSON logs.
COPY gunicorn.conf.py ./

USER herald

EXPOSE 8000 5555

CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-", "api:create_app()"]

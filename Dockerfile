# One process serves HTTP and WebSockets and holds the environments in memory.
# Its event loop writes the episode rows itself, on the SQLite file below or on a
# PostgreSQL DATABASE_URL (envs/recording/writer.py). Built with
# --build-arg REQUIREMENTS=requirements-ray.txt, the same image is a Ray head, a Ray
# worker or a front of the Ray runtime (deploy/docker-compose.yml).
FROM python:3.11-slim

# EGL/GL for MuJoCo and Box2D/pygame rendering without a display.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libegl1 libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DEBUG=0 \
    ALLOWED_HOSTS=* \
    DATABASE_URL=sqlite:////data/db.sqlite3 \
    MEDIA_ROOT=/data/media \
    MUJOCO_GL=egl

WORKDIR /app
ARG REQUIREMENTS=requirements.txt
# requirements.txt installs the Python client (clients/python), whose codec the server imports.
COPY requirements.txt requirements-ray.txt ./
COPY clients/python clients/python
RUN pip install --no-cache-dir -r ${REQUIREMENTS}
COPY . .

RUN mkdir -p /data
VOLUME /data
EXPOSE 5000

CMD ["sh", "-c", "python manage.py migrate --noinput && exec python -m gymapi.serve --host 0.0.0.0 --port 5000"]

"""The bare API baseline: a Flask + Flask-SQLAlchemy endpoint that inserts one row, publishes one confirmed message and answers 202."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench import baseline_tasks


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class BaselineRow(db.Model):
    __tablename__ = "bench_baseline_rows"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def create_app() -> Flask:
    app = Flask("bench-baseline")
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    db.init_app(app)

    @app.get("/health")
    def health():
        return jsonify(status="ok")

    @app.post("/v1/notifications")
    def create():
        payload = request.get_json()
        row_id = uuid.uuid4()  # kept aside: reading row.id after the commit would reload the row
        db.session.add(BaselineRow(id=row_id, channel=payload["channel"], recipient=payload["to"],
                                   body=payload["content"]["body"],
                                   created_at=datetime.now(timezone.utc)))
        db.session.commit()
        baseline_tasks.publish(str(row_id))
        return jsonify(id=str(row_id), status="accepted"), 202

    return app

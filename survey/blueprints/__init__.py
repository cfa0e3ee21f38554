"""Blueprints by audience: home (the landing page), public (citizens, no login), posters (QR posters
for staff), auth (staff sign-in), manage (managers, admins, and researchers' downloads), api (machine
clients)."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from survey.blueprints import api, auth, home, manage, posters, public

    app.register_blueprint(home.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(posters.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(manage.bp)
    app.register_blueprint(api.bp)

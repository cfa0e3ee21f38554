"""Blueprints by audience: home (the landing page), public (citizens, no login), kiosk_offline (a
counter tablet's service worker and offline queue), posters (QR posters for staff), auth (staff
sign-in), manage (managers, admins, and researchers' downloads), api (machine clients)."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from survey.blueprints import api, auth, home, kiosk_offline, manage, posters, public

    app.register_blueprint(home.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(kiosk_offline.bp)
    app.register_blueprint(posters.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(manage.bp)
    app.register_blueprint(api.bp)

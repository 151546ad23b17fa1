"""Compression alert: rules over per-level findings -> none / watch / urgent, with reasons in words."""

from spinedetect.alert.rules import Alert, AlertConfig, AlertLevel, LevelFindings, decide_alert

__all__ = ["Alert", "AlertConfig", "AlertLevel", "LevelFindings", "decide_alert"]

"""Tests for the Telegram sandbox (sandbox/)."""

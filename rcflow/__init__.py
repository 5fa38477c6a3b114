"""rcflow: release-candidate orchestration."""

__version__ = "0.1.0"

"""The GDPR side: retention and erasure, legal holds, data subjects' access and erasure, the record of processing."""

"""What leaves Værn: PDF reports, export packages and their verification, WACZ."""

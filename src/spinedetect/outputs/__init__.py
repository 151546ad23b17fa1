"""Outputs radiologists review: overlays, DICOM SEG/SR, the batch review page."""

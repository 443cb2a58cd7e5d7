DA = {
    "Download case report (PDF)": "Hent sagsrapport (PDF)",
    "Download case package (ZIP)": "Hent sagspakke (ZIP)",
    "Download evidence report (PDF)": "Hent bevisrapport (PDF)",
}

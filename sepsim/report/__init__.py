"""Operating-characteristic tables, figures and the HTML report."""

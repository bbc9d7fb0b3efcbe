-- Placeholder: another branch adds migration 0012; the lead drops this file at merge.
SELECT 1;

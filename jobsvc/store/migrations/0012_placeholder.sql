-- Placeholder so that 0014 applies on the branch `children`; the lead drops it at merge.
SELECT 1;

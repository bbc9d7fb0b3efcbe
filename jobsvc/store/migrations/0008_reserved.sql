-- Reserved: number 0008 belongs to another branch (workflows) being developed at the same
-- time; migrations are numbered without gaps, so this empty one holds its place until that
-- branch's 0008 replaces it at merge.
SELECT 1;

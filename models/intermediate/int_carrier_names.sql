/* Every distinct (text-normalised) carrier name delivered on a staged plan, mapped to its
   canonical name (SPEC §2 plans): the alias seed, matched case-insensitively, else title case
   with one trailing corporate suffix token removed, then trailing commas and spaces removed. */
MODEL (
  name intermediate.int_carrier_names,
  kind FULL,
  signals (
    delivery_ready(source := 'plans')
  ),
  grain (
    delivered_carrier_name
  ),
  audits (
    unique_values(columns := (
      delivered_carrier_name
    )),
    not_null(columns := (
      delivered_carrier_name
    ))
  )
);

WITH stg_plans AS (
  SELECT DISTINCT
    p.carrier_name
  FROM staging.stg_plans AS p
  WHERE
    NOT p.carrier_name IS NULL
), seed_carrier_aliases AS (
  SELECT
    a.alias,
    a.carrier_name
  FROM staging.seed_carrier_aliases AS a
), split_characters AS (
  SELECT
    p.carrier_name,
    t.position,
    SUBSTRING(p.carrier_name, t.position, 1) AS character,
    CASE WHEN t.position > 1 THEN SUBSTRING(p.carrier_name, t.position - 1, 1) END AS previous_character
  FROM stg_plans AS p
  CROSS JOIN UNNEST(GENERATE_SERIES(1, LENGTH(p.carrier_name))) AS t(position)
), title_cased AS (
  /* First letter of every run of letters upper, the rest lower. The letters are put back in
     order by sorting (position, letter) pairs: an ordered string aggregate is not portable
     (Spark 3.5 has no ordered STRING_AGG/LISTAGG, and its COLLECT_LIST has no order). */
  SELECT
    s.carrier_name,
    ARRAY_TO_STRING(
      LIST_TRANSFORM(
        LIST_SORT(
          ARRAY_AGG(
            {'position': s.position, 'letter': CASE
              WHEN NOT s.previous_character IS NULL
              AND REGEXP_MATCHES(s.previous_character, '\p{L}')
              THEN LOWER(s.character)
              ELSE UPPER(s.character)
            END}
          )
        ),
        c -> c.letter
      ),
      ''
    ) AS title_name
  FROM split_characters AS s
  GROUP BY
    s.carrier_name
), suffix_removed AS (
  SELECT
    t.carrier_name,
    CASE
      WHEN STRPOS(t.title_name, ' ') > 0
      AND LOWER(REGEXP_EXTRACT(t.title_name, '([^ ]+)$', 1)) IN ('inc', 'inc.', 'llc', 'corp', 'corp.', 'corporation', 'co', 'co.', 'company')
      THEN REGEXP_REPLACE(t.title_name, ' [^ ]+$', '')
      ELSE t.title_name
    END AS without_suffix
  FROM title_cased AS t
)
/* Names x aliases: many-to-one on the lower-cased name (alias is unique in the seed). */
SELECT
  s.carrier_name::TEXT AS delivered_carrier_name, /* text-normalised name as delivered */
  COALESCE(a.carrier_name, NULLIF(REGEXP_REPLACE(s.without_suffix, '[, ]+$', ''), ''))::TEXT AS carrier_name, /* canonical */
  (
    NOT a.alias IS NULL
  )::BOOLEAN AS is_alias_match
FROM suffix_removed AS s
LEFT JOIN seed_carrier_aliases AS a
  ON a.alias = LOWER(s.carrier_name)

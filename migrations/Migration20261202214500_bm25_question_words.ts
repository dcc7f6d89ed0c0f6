import { Migration } from '@mikro-orm/migrations';

/**
 * How keyword search reads a question in plain words (issue 19, ranking quality): as the words
 * a textbook tokenizer (and Lucene's standard one) would find, not as PostgreSQL's parser reads
 * prose. `plain_question_text` rewrites the question; the retriever passes the result to
 * `sluice_bm25_search` (unchanged) and to the highlight. Questions with search syntax do not go
 * through it: their quotes and minus signs mean what the user wrote.
 *
 * - A hyphenated compound ("boundary-layer") is its parts only. PostgreSQL indexes both the
 *   compound and its parts, so as a question it was three terms: the concept counted about
 *   three times, and the compound (rarer, so weightier) missed every passage that writes
 *   "boundary layer". Passages keep all three lexemes, so the parts find them all.
 * - A token the parser takes for a path, address or host ("/boat-tail/", "lift/drag", "i.e.")
 *   is itself and its words: as itself it matches the same token in a passage (an identifier
 *   someone looks for); its words match the prose ("boat", "tail"). Cranfield writes emphasis as
 *   /word/: one question lost its two key words to that.
 *
 * Measured on Cranfield's odd half (docs/benchmarks.md, "Ranking quality vs BM25").
 */
const PLAIN_QUESTION_TEXT = String.raw`create or replace function plain_question_text(config regconfig, question text) returns text
language sql stable strict parallel safe
as $fn$
  select coalesce(string_agg(
           case when t.alias in ('file', 'url', 'url_path', 'host', 'email')
                then p.token || ' ' || translate(p.token, '/.@:-_~\', '        ')
                else p.token end, ' ' order by p.ord), '')
    from ts_parse((select cfgparser from pg_ts_config where oid = config), question) with ordinality as p(tokid, token, ord)
    join ts_token_type((select cfgparser from pg_ts_config where oid = config)) t on t.tokid = p.tokid
   -- Spaces and punctuation between words, and compounds whose parts follow as tokens of their own.
   where t.alias not in ('blank', 'asciihword', 'hword', 'numhword')
$fn$;`;

export class Migration20261202214500_bm25_question_words extends Migration {
  override async up(): Promise<void> {
    this.addSql(PLAIN_QUESTION_TEXT);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists plain_question_text(regconfig, text);`);
  }
}

/**
 * WikiText normalisation.
 *
 * The word-level WikiText files split every token by spaces and escape the characters that join numbers and
 * hyphenated words: "1 @,@ 000" (1,000), "0 @.@ 7" (0.7), "state @-@ of @-@ the @-@ art" (state-of-the-art). Those
 * three escapes are unambiguous, so `detokenizeWikitext` undoes exactly them and nothing else. Everything else is
 * kept verbatim, on purpose: headings (" = Title = ", " = = Section = = "), "<unk>", and the spaces around
 * punctuation (" , ", " . ", " 's") — re-attaching punctuation is a heuristic with no single right answer, and
 * GPT-2 reads the spaced form fine. Line structure (one paragraph per line, blank lines) is kept.
 *
 * Version the rule: the version is part of the token-cache key, so changing the rule invalidates cached tokens.
 */
export const WIKITEXT_DETOKENIZE_VERSION = 1;

export function detokenizeWikitext(text: string): string {
  return text.replaceAll(' @-@ ', '-').replaceAll(' @,@ ', ',').replaceAll(' @.@ ', '.');
}

/** WikiText is recognised by its file name (wikitext-2/…, wiki.valid.tokens, …). */
export function looksLikeWikitextPath(path: string): boolean {
  const p = path.toLowerCase().replaceAll('\\', '/');
  return p.includes('wikitext') || /(^|\/)wiki\.(train|valid|test)\.(tokens|raw)$/.test(p);
}

/**
 * Markdown as GitHub and npm render it, for the link checks (docs-links.test.ts on the repository,
 * shipped-docs.test.ts on the packed tarball).
 */

/** The lines outside fenced code blocks. */
export function prose(markdown: string): string[] {
  let fence = false;
  return markdown.split('\n').filter((l) => {
    if (/^\s*(```|~~~)/.test(l)) {
      fence = !fence;
      return false;
    }
    return !fence;
  });
}

/** GitHub's heading ids (github-slugger): lower case, punctuation and symbols dropped, each space a dash, repeats numbered. */
export function slugs(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every link target of a page (inline code removed), web and mail links included. */
export function allLinks(markdown: string): string[] {
  const out: string[] = [];
  for (const line of prose(markdown)) {
    for (const m of line.replace(/`[^`]*`/g, '``').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push(m[1]!);
  }
  return out;
}

/** Relative link targets of a page (web and mail links skipped). */
export function links(markdown: string): string[] {
  return allLinks(markdown).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

// Proves that the repository's documentation has no broken relative links: every Markdown link in
// README.md, docs/ (with docs/benchmarks/), charts/tapline/README.md and loadtest/k6/README.md
// that points into the repository names a file or folder that exists, and a link with a #fragment
// into a Markdown file names a heading that file has (GitHub's anchor rules: lower case, spaces to
// hyphens, punctuation dropped, repeated headings numbered). Links to other sites are not
// followed. Code blocks and inline code are skipped, since brackets there are not links.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { projectRoot } from '../../services/common/paths';

const root = projectRoot();

/** The Markdown files whose links are checked, relative to the repository root. */
function documentationFiles(): string[] {
  const files = ['README.md', 'charts/tapline/README.md', 'loadtest/k6/README.md'].filter((file) => existsSync(join(root, file)));
  const walk = (folder: string): void => {
    for (const name of readdirSync(join(root, folder)).sort()) {
      const path = join(folder, name);
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (name.endsWith('.md')) files.push(path);
    }
  };
  walk('docs');
  return files;
}

/** The text with fenced code blocks and inline code spans blanked out (line numbers kept). */
function withoutCode(markdown: string): string {
  let inFence = false;
  const lines = markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      inFence = !inFence;
      return '';
    }
    return inFence ? '' : line.replace(/`[^`]*`/g, (span) => ' '.repeat(span.length));
  });
  return lines.join('\n');
}

interface Link {
  readonly line: number;
  readonly target: string;
}

/** Inline links `[text](target)` and `[text](target "title")`. */
function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  withoutCode(markdown)
    .split('\n')
    .forEach((text, index) => {
      for (const match of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        links.push({ line: index + 1, target: match[1] ?? '' });
      }
    });
  return links;
}

/** GitHub's anchor of a heading: its text without markup, lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor a Markdown file's headings define; a repeated anchor gets -1, -2, ... as on GitHub. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const base = anchorOf(heading[1] ?? '');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target);
}

/** What is wrong with one relative link, or undefined when it resolves. */
function problemOf(file: string, target: string): string | undefined {
  const [pathPart = '', fragment] = target.split('#', 2);
  const path = decodeURIComponent(pathPart);
  const resolved = path === '' ? join(root, file) : resolve(root, dirname(file), path);
  if (!resolved.startsWith(root)) return 'points outside the repository';
  if (!existsSync(resolved)) return `${relative(root, resolved)} does not exist`;
  if (fragment === undefined || fragment === '' || !resolved.endsWith('.md') || statSync(resolved).isDirectory()) return undefined;
  const anchors = anchorsOf(readFileSync(resolved, 'utf8'));
  return anchors.has(decodeURIComponent(fragment).toLowerCase()) ? undefined : `${relative(root, resolved)} has no heading #${fragment}`;
}

describe('Markdown links', () => {
  const files = documentationFiles();

  it('finds the documentation it is meant to check', () => {
    for (const expected of ['README.md', 'docs/ARCHITECTURE.md', 'docs/DECISIONS.md']) {
      assert.ok(files.includes(expected), `expected ${expected} among the checked files, saw ${files.join(', ')}`);
    }
  });

  it('turns headings into the anchors GitHub gives them', () => {
    const anchors = anchorsOf(
      [
        '# Tapline architecture',
        '### 8. Every caller is someone',
        '## Fleet card ids embed their account: `<fleetId>~<cardNo>`',
        '## Decisions',
        '## Decisions',
        '```',
        '# not a heading',
        '```',
      ].join('\n'),
    );
    assert.deepEqual([...anchors].sort(), [
      '8-every-caller-is-someone',
      'decisions',
      'decisions-1',
      'fleet-card-ids-embed-their-account-fleetidcardno',
      'tapline-architecture',
    ]);
  });

  it('reads links outside code and ignores brackets inside code', () => {
    const links = linksOf(
      ['See [a](docs/A.md#x) and `[b](not/a/link.md)`.', '```', '[c](also/not.md)', '```', '[d](https://example.org)'].join('\n'),
    );
    assert.deepEqual(
      links.map((link) => link.target),
      ['docs/A.md#x', 'https://example.org'],
    );
  });

  it('resolves every relative link to an existing file and heading', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const link of linksOf(readFileSync(join(root, file), 'utf8'))) {
        if (isExternal(link.target)) continue;
        checked += 1;
        const problem = problemOf(file, link.target);
        if (problem !== undefined) problems.push(`${file}:${link.line} (${link.target}): ${problem}`);
      }
    }
    assert.ok(checked > 20, `expected the documentation to hold more than 20 relative links, saw ${checked}`);
    assert.deepEqual(problems, [], `broken relative links:\n${problems.join('\n')}`);
  });
});

/**
 * Keeps secret values out of everything a run reports, in every form a value takes on its way through
 * a request and back: as it is, JSON-escaped, percent-encoded (each of the URL standard's encode sets,
 * `encodeURIComponent`, forms with `+` for a space, upper- and lower-case hex digits), base64 (standard
 * and URL-safe, at each of the three byte alignments a value can have inside a longer encoded text) and
 * hex. Each form becomes `[secret:NAME]`.
 *
 * Text is often cut (excerpts, messages at their length limit), and a value that crosses the cut leaves
 * a piece no whole-value search finds. So a cut counts too: where a text ends at a cut with the start of
 * a form, or begins after a cut with the end of one, that piece is replaced as well. Cuts are the ends
 * of an excerpt a caller names, Lookout's cut mark `…`, and (for pieces of at least
 * {@link MIN_PIECE_AT_EDGE} characters) the two ends of any text, since callers may cut without a mark.
 *
 * Pure; nothing here does I/O.
 */

/** Shortest piece of a form replaced next to a cut the caller names or a `…`. */
export const MIN_PIECE_AT_CUT = 4;
/** Shortest piece of a form replaced at the start or end of any text (it may have been cut unmarked). */
export const MIN_PIECE_AT_EDGE = 6;
/** Shortest base64 or hex form searched for: shorter ones would match unrelated text. */
const MIN_ENCODED_FORM = 8;
const CUT_MARK = '…';
const LABEL = /\[secret:[A-Za-z_][A-Za-z0-9_]{0,127}\]/g;

export interface Redactor {
  /** Replaces every form of every value, and pieces of one at cuts (see the module comment). */
  (text: string): string;
  /** As the function, for a text cut from a longer one: `start`/`end` say which of its ends are cuts. */
  excerpt(text: string, cut: { start: boolean; end: boolean }): string;
  /** Whether `text` holds any form of a value. */
  holds(text: string): boolean;
  /** Every form of every value as bytes (UTF-8), to search binary data with. */
  readonly needles: readonly Buffer[];
}

interface Form { text: string; label: string }

/** A redactor for `secrets` (name → value; empty values are ignored). */
export function createRedactor(secrets: Readonly<Record<string, string>>): Redactor {
  const forms: Form[] = [];
  for (const [name, value] of Object.entries(secrets)) {
    if (value === '') continue;
    for (const text of formsOf(value)) forms.push({ text, label: `[secret:${name}]` });
  }
  // Longer forms first, so that a value containing another one is replaced whole.
  forms.sort((a, b) => b.text.length - a.text.length);
  const needles = [...new Set(forms.map((f) => f.text))].map((text) => Buffer.from(text));

  const replaceWhole = (text: string): string => {
    let out = text;
    for (const { text: form, label } of forms) if (out.includes(form)) out = out.split(form).join(label);
    return out;
  };
  /** Replaces whole forms and the pieces at cuts, never touching a label already there (so it is idempotent). */
  const redact = (text: string, cutStart: boolean, cutEnd: boolean): string => {
    if (forms.length === 0 || text === '') return text;
    const labels = text.match(LABEL) ?? [];
    const parts = text.split(LABEL);
    const out: string[] = [];
    parts.forEach((part, i) => {
      // Inner boundaries (next to a label) are not cuts; the text's own ends are.
      const atStart = i === 0;
      const atEnd = i === parts.length - 1;
      out.push(redactPart(part, atStart ? (cutStart ? MIN_PIECE_AT_CUT : MIN_PIECE_AT_EDGE) : 0, atEnd ? (cutEnd ? MIN_PIECE_AT_CUT : MIN_PIECE_AT_EDGE) : 0));
      if (i < labels.length) out.push(labels[i]!);
    });
    return out.join('');
  };
  const redactPart = (part: string, startMin: number, endMin: number): string => {
    const segments = replaceWhole(part).split(CUT_MARK);
    return segments.map((segment, i) => {
      const headMin = i === 0 ? startMin : MIN_PIECE_AT_CUT;
      const tailMin = i === segments.length - 1 ? endMin : MIN_PIECE_AT_CUT;
      return cutPieces(segment, forms, headMin, tailMin);
    }).join(CUT_MARK);
  };

  const redactor = ((text: string) => redact(text, false, false)) as Redactor;
  redactor.excerpt = (text, cut) => redact(text, cut.start, cut.end);
  redactor.holds = (text) => forms.some((f) => text.includes(f.text));
  Object.defineProperty(redactor, 'needles', { value: needles });
  return redactor;
}

/**
 * Replaces, in `text`, a head that is the end of a form (at least `headMin` characters; 0: none) and a
 * tail that is the start of one (at least `tailMin`). The longest piece found wins.
 */
function cutPieces(text: string, forms: readonly Form[], headMin: number, tailMin: number): string {
  let out = text;
  if (tailMin > 0) {
    const tail = longestPiece(forms, (form) => longestPrefixAtEnd(out, form, tailMin));
    if (tail) out = `${out.slice(0, out.length - tail.length)}${tail.label}`;
  }
  if (headMin > 0) {
    const head = longestPiece(forms, (form) => longestSuffixAtStart(out, form, headMin));
    if (head) out = `${head.label}${out.slice(head.length)}`;
  }
  return out;
}

function longestPiece(forms: readonly Form[], measure: (form: string) => number): { length: number; label: string } | null {
  let best: { length: number; label: string } | null = null;
  for (const { text, label } of forms) {
    const length = measure(text);
    if (length > 0 && (best === null || length > best.length)) best = { length, label };
  }
  return best;
}

/** Length of the longest proper prefix of `form` that `text` ends with (0 when none, or shorter than `min`). */
function longestPrefixAtEnd(text: string, form: string, min: number): number {
  const first = form.charCodeAt(0);
  for (let at = Math.max(0, text.length - form.length + 1); at <= text.length - min; at++) {
    if (text.charCodeAt(at) === first && form.startsWith(text.slice(at))) return text.length - at;
  }
  return 0;
}

/** Length of the longest proper suffix of `form` that `text` starts with (0 when none, or shorter than `min`). */
function longestSuffixAtStart(text: string, form: string, min: number): number {
  const first = text.charCodeAt(0);
  for (let at = Math.max(1, form.length - text.length); at <= form.length - min; at++) {
    if (form.charCodeAt(at) === first && text.startsWith(form.slice(at))) return form.length - at;
  }
  return 0;
}

/** Every form a value may take (see the module comment), without repeats. */
export function formsOf(value: string): string[] {
  const forms = new Set<string>([value]);
  const json = JSON.stringify(value).slice(1, -1);
  forms.add(json);
  forms.add(json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  forms.add(json.replace(/\//g, '\\/'));
  for (const keep of Object.values(URL_SETS)) {
    const encoded = percentEncode(value, keep, false);
    forms.add(encoded);
    forms.add(encoded.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
  }
  const form = percentEncode(value, URL_SETS.form, true);
  forms.add(form);
  forms.add(form.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
  forms.add(encodeURIComponent(value));
  forms.add(encodeURI(value));
  const bytes = Buffer.from(value);
  for (const text of [...base64Pieces(bytes), bytes.toString('hex'), bytes.toString('hex').toUpperCase()]) {
    if (text.length >= MIN_ENCODED_FORM) forms.add(text);
  }
  return [...forms].filter((f) => f !== '');
}

/**
 * Which characters each percent-encoding leaves as they are (everything else becomes `%XX` of its UTF-8
 * bytes): the URL standard's fragment, query, path, userinfo and component sets, and forms
 * (`application/x-www-form-urlencoded`, which writes a space as `+`).
 */
const URL_SETS = {
  fragment: /[^\x00-\x20"<>`\x7f-\uffff]/,
  query: /[^\x00-\x20"#<>\x7f-\uffff]/,
  specialQuery: /[^\x00-\x20"#<>'\x7f-\uffff]/,
  path: /[^\x00-\x20"#<>?`{}\x7f-\uffff]/,
  userinfo: /[^\x00-\x20"#<>?`{}/:;=@[\\\]^|\x7f-\uffff]/,
  component: /[^\x00-\x20"#<>?`{}/:;=@[\\\]^|$%&+,\x7f-\uffff]/,
  form: /[A-Za-z0-9*\-._]/,
} as const;

function percentEncode(value: string, keep: RegExp, spaceAsPlus: boolean): string {
  let out = '';
  for (const c of value) {
    if (spaceAsPlus && c === ' ') out += '+';
    else if (keep.test(c)) out += c;
    else for (const byte of Buffer.from(c)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The base64 characters that depend on `bytes` alone, for each of the three alignments the bytes can
 * have inside a longer encoded text (standard and URL-safe alphabets): characters that also depend on
 * the unknown neighbouring bytes are left out.
 */
function base64Pieces(bytes: Buffer): string[] {
  const pieces: string[] = [];
  for (let align = 0; align < 3; align++) {
    const encoded = Buffer.concat([Buffer.alloc(align), bytes]).toString('base64').replace(/=+$/, '');
    const from = Math.ceil((8 * align) / 6);
    const to = Math.floor((8 * (align + bytes.length)) / 6);
    if (to <= from) continue;
    const piece = encoded.slice(from, to);
    pieces.push(piece, piece.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return pieces;
}

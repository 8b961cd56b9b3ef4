/**
 * HTML built from text that may be hostile (process names are whatever bytes a process chose).
 * `html` is a tagged template that escapes every value put into it unless the value is itself
 * Html built the same way, so a page written with it cannot forget to escape one.
 */

/** Markup that is safe to put into a page as is: built by `html`, never from raw text. */
export class Html {
  readonly markup: string;

  private constructor(markup: string) {
    this.markup = markup;
  }

  /** Only `html` and `join` make Html. */
  static fromTrustedMarkup(markup: string): Html {
    return new Html(markup);
  }

  toString(): string {
    return this.markup;
  }
}

export type HtmlValue = string | number | Html | readonly Html[];

/** Text as HTML: the five characters that could end text or an attribute value become entities. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): Html {
  let markup = strings[0]!;
  values.forEach((value, index) => {
    markup += markupOf(value) + strings[index + 1]!;
  });
  return Html.fromTrustedMarkup(markup);
}

/** Fragments joined by an (escaped) separator. */
export function join(fragments: readonly Html[], separator: string): Html {
  return Html.fromTrustedMarkup(fragments.map((fragment) => fragment.markup).join(escapeHtml(separator)));
}

function markupOf(value: HtmlValue): string {
  if (value instanceof Html) return value.markup;
  if (typeof value === 'number') return escapeHtml(String(value));
  if (typeof value === 'string') return escapeHtml(value);
  return value.map((fragment) => fragment.markup).join('');
}

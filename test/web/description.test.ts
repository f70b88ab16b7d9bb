import { describe, expect, it } from 'vitest';
import { descriptionFormat, httpUrl, renderDescription, renderWelcome } from '../../src/web/description.js';
import { escapeHtml, html, trusted } from '../../src/web/html.js';

const md = (text: string) => renderDescription(text, 'text/markdown')!.value;

describe('html templates', () => {
  it('escapes every interpolated string, in text and in attributes', () => {
    const evil = `"><script>alert('x')</script>&`;
    expect(html`<a title="${evil}">${evil}</a>`.value).toBe(
      '<a title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">' +
        '&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</a>',
    );
    expect(escapeHtml(`<>&"'`)).toBe('&lt;&gt;&amp;&quot;&#39;');
  });

  it('keeps fragments built by html`` or marked trusted, joins lists and drops null, undefined and false', () => {
    const items = ['<a>', 'b'].map((x) => html`<li>${x}</li>`);
    expect(html`<ul>${items}${null}${undefined}${false}${3}</ul>${trusted('<br>')}`.value).toBe(
      '<ul><li>&lt;a&gt;</li><li>b</li>3</ul><br>',
    );
  });
});

describe('descriptionFormat', () => {
  it('reads the Description-Content-Type, parameters and case aside; none means reStructuredText', () => {
    expect(descriptionFormat('text/markdown; charset=UTF-8; variant=GFM')).toBe('markdown');
    expect(descriptionFormat('Text/Markdown')).toBe('markdown');
    expect(descriptionFormat('text/x-rst')).toBe('rst');
    expect(descriptionFormat(null)).toBe('rst');
    expect(descriptionFormat('text/plain')).toBe('plain');
    expect(descriptionFormat('application/x-whatever')).toBe('plain');
  });
});

describe('httpUrl', () => {
  it('accepts absolute http and https URLs only', () => {
    expect(httpUrl('https://example.com/a b')).toBe('https://example.com/a%20b');
    expect(httpUrl(' http://example.com ')).toBe('http://example.com/');
    for (const bad of [
      'javascript:alert(1)',
      'JAVASCRIPT:alert(1)',
      'data:text/html,x',
      '//evil.example',
      '/relative',
      'mailto:a@b',
      'ftp://x',
      '',
      null,
    ]) {
      expect(httpUrl(bad)).toBeNull();
    }
  });
});

describe('renderDescription', () => {
  it('renders Markdown: headings below the page outline, code, tables, links marked nofollow', () => {
    const out = md(
      '# Title\n\nSome *text* and `code`.\n\n```py\nprint(1)\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[docs](https://docs.example/)',
    );
    expect(out).toContain('<h3>Title</h3>');
    expect(out).toContain('<em>text</em>');
    expect(out).toContain('<pre tabindex="0"><code>print(1)\n</code></pre>');
    expect(out).toContain('<table tabindex="0">');
    expect(out).toContain('<a href="https://docs.example/" rel="nofollow noopener">docs</a>');
  });

  it('removes scripts, styles, frames, SVG and forms with what is inside them', () => {
    const out = md(
      '<script>alert(1)</script><style>body{display:none}</style><iframe src="https://x">inner</iframe>' +
        '<svg onload="alert(1)"><text>svg text</text></svg><object data="x">obj</object><form action="https://x"><input name="p"></form>after',
    );
    expect(out).not.toMatch(/script|style|iframe|svg|object|form|input|alert|display:none|svg text|inner/i);
    expect(out).toContain('after');
  });

  it('keeps no event handler, style, id or foreign class, and no link that is not http(s) or mailto', () => {
    const out = md(
      '<a href="javascript:alert(1)" onclick="alert(1)">a</a> <a href="JaVaScRiPt:alert(1)">b</a> ' +
        '<a href="&#106;avascript:alert(1)">c</a> <a href="data:text/html,x">d</a> <a href="vbscript:x">e</a> ' +
        '<a href="//evil.example/">f</a> <a href="mailto:me@example.com">g</a>' +
        '<p style="position:fixed" id="main" class="skip" onmouseover="alert(1)">p</p>' +
        '\n\n[md](javascript:alert(1)) [md2](data:text/html,x)',
    );
    expect(out).not.toMatch(/onclick|onmouseover|style=|id=|class=|evil\.example/i);
    // Every href left is http(s) or mailto; the Markdown links with other schemes stay text.
    expect([...out.matchAll(/href="([^"]*)"/g)].map((m) => m[1])).toEqual(['mailto:me@example.com']);
    expect(out).toContain('[md](javascript:alert(1))');
    expect(out).toContain('<a href="mailto:me@example.com" rel="nofollow noopener">g</a>');
    expect(out).toContain('<p>p</p>');
  });

  it('shows images as their alt text, so the page loads nothing from elsewhere and a linked badge stays a named link', () => {
    const out = md(
      '[![build status](https://ci.example/badge.svg)](https://ci.example/) <img src="x" onerror="alert(1)"> ![](https://x/y.png)',
    );
    expect(out).not.toContain('<img');
    expect(out).not.toContain('onerror');
    expect(out).toContain('<a href="https://ci.example/" rel="nofollow noopener"><span class="image-alt">build status</span></a>');
    expect(out).toContain('<span class="image-alt">image</span>');
  });

  it('escapes an alt text that carries markup', () => {
    const out = md('<img alt="<script>alert(1)</script>" src="x">');
    expect(out).not.toContain('<script');
    expect(out).toContain('&lt;script&gt;');
  });

  it('shows reStructuredText and plain text as preformatted text, escaped', () => {
    for (const type of ['text/x-rst', null, 'text/plain']) {
      const out = renderDescription('Title\n=====\n\n<b>not bold</b> `x <https://example.com>`_', type)!.value;
      expect(out).toBe('<pre class="readme-text">Title\n=====\n\n&lt;b&gt;not bold&lt;/b&gt; `x &lt;https://example.com&gt;`_</pre>');
    }
  });

  it('gives nothing for a missing or blank description', () => {
    expect(renderDescription(null, 'text/markdown')).toBeNull();
    expect(renderDescription('  \n ', 'text/markdown')).toBeNull();
  });
});

describe('renderWelcome (--welcome)', () => {
  const values = {
    url: 'https://tools.example.com/pypi/',
    version: '1.2.3',
    files: 42,
    packages: '/pypi/packages/',
    simple: '/pypi/simple/',
  };

  it("fills in pypiserver's template names and keeps its welcome.html readable, without its document tags", () => {
    const page = `<html><head><title>Welcome to pypiserver!</title></head><body>
<h1>Welcome to pypiserver!</h1>
<p>This is a PyPI compatible package index serving {{NUMPKGS}} packages.</p>

    <p> To use this server with <code>pip</code>, run the following command:
    <blockquote><pre>
pip install --index-url {{URL}}simple/ PACKAGE [PACKAGE2...]
    </pre></blockquote></p>
<p>The complete list of all packages can be found <a href="{{PACKAGES}}">here</a> or via the <a href="{{!SIMPLE}}">simple</a> index.</p>
<p>This instance is running version {{ VERSION }} of the <a href="https://pypi.org/project/pypiserver/">pypiserver</a> software.</p>
<script>alert(1)</script></body></html>`;
    const out = renderWelcome({ text: page, format: 'html' }, values).value;
    expect(out).toContain('<h3>Welcome to pypiserver!</h3>');
    expect(out).toContain('serving 42 packages');
    expect(out).toContain('pip install --index-url https://tools.example.com/pypi/simple/ PACKAGE');
    expect(out).toContain('<a href="/pypi/packages/" rel="nofollow noopener">here</a>');
    expect(out).toContain('<a href="/pypi/simple/" rel="nofollow noopener">simple</a>');
    expect(out).toContain('version 1.2.3 of');
    expect(out).not.toMatch(/<html|<head|<title|<body|<script|alert/);
  });

  it('renders a Markdown welcome', () => {
    const out = renderWelcome({ text: '# Team index\n\nAsk **#platform** for an account.', format: 'markdown' }, values).value;
    expect(out).toContain('<h3>Team index</h3>');
    expect(out).toContain('<strong>#platform</strong>');
  });
});

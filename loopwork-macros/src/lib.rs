//! `#[loopwork::main]` and `#[loopwork::test]`: run an `async fn` on a fresh
//! loopwork runtime. Use them through `loopwork` (its default feature
//! `macros` re-exports them); their documentation and examples are there.
//!
//! # What the expansion relies on
//! - The generated code names loopwork only by absolute paths
//!   (`::loopwork::Runtime`, `::loopwork::__private`), so it works in any
//!   module of a crate that depends on `loopwork`, whatever it imports.
//! - The function body becomes an `async` block unchanged: `return` and `?`
//!   inside it keep their meaning, and its output is the function's return
//!   type, which passes through (`-> Result<(), E>` works).
//! - Every error in the attribute or the function is a `compile_error!`
//!   spanned on the user's offending tokens; all of them are reported at
//!   once, and a stub function stands in for the item so that no follow-on
//!   error ("`main` function not found", "`main` cannot be async") hides them.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Error, Expr, ExprLit, ItemFn, Lit, Meta, Token};

// `loopwork::main`, documented where loopwork re-exports it.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Main, args.into(), item.into()).into()
}

// `loopwork::test`, documented where loopwork re-exports it.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args.into(), item.into()).into()
}

#[derive(Clone, Copy)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    /// The attribute as the user wrote it, for messages.
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[loopwork::main]",
            Kind::Test => "#[loopwork::test]",
        }
    }
}

/// The runtime options; `None` leaves `Builder`'s default.
#[derive(Default)]
struct Options {
    loops: Option<usize>,
    debug: Option<bool>,
}

/// The largest loop count `Builder::loops` accepts.
const MAX_LOOPS: usize = 65_534;

fn expand(kind: Kind, args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            return Error::new_spanned(item, format!("{} applies to an `async fn`", kind.attr()))
                .into_compile_error()
        }
    };
    let mut errors: Option<Error> = None;
    let mut push = |e: Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    let options = parse_options(kind, args).unwrap_or_else(|e| {
        push(e);
        Options::default()
    });
    check_fn(kind, &func, &mut push);
    match errors {
        Some(e) => with_stub(e, &func),
        None => generate(kind, options, func),
    }
}

/// Parses `loops = N, debug = true|false`.
fn parse_options(kind: Kind, args: TokenStream2) -> syn::Result<Options> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut options = Options::default();
    let mut errors: Option<Error> = None;
    for meta in metas {
        if let Err(e) = parse_option(kind, meta, &mut options) {
            match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            }
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(options),
    }
}

fn parse_option(kind: Kind, meta: Meta, options: &mut Options) -> syn::Result<()> {
    let attr = kind.attr();
    let nv = match meta {
        Meta::NameValue(nv) => nv,
        other => {
            return Err(Error::new_spanned(
                other,
                format!("{attr} options are `name = value`: `loops = N` or `debug = true|false`"),
            ))
        }
    };
    let name = nv
        .path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    match name.as_str() {
        "loops" => {
            if options.loops.is_some() {
                return Err(Error::new_spanned(&nv.path, "`loops` is given twice"));
            }
            let n = match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Int(n), ..
                }) => n.base10_parse::<usize>().ok(),
                _ => None,
            };
            match n {
                Some(n @ 1..=MAX_LOOPS) => options.loops = Some(n),
                _ => {
                    return Err(Error::new_spanned(
                        &nv.value,
                        format!(
                            "`loops` takes an integer literal from 1 to {MAX_LOOPS}, \
                             e.g. `loops = 4`"
                        ),
                    ))
                }
            }
        }
        "debug" => {
            if options.debug.is_some() {
                return Err(Error::new_spanned(&nv.path, "`debug` is given twice"));
            }
            match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }) => options.debug = Some(b.value),
                other => return Err(Error::new_spanned(other, "`debug` takes `true` or `false`")),
            }
        }
        _ => {
            return Err(Error::new_spanned(
                &nv.path,
                format!(
                    "unknown option `{}` of {attr}: the options are `loops = N` and \
                     `debug = true|false`",
                    nv.path.to_token_stream().to_string().replace(' ', "")
                ),
            ))
        }
    }
    Ok(())
}

/// The function must be a plain `async fn` with no arguments or generics
/// (the runtime has nothing to pass it); a test must not also carry
/// `#[test]`.
fn check_fn(kind: Kind, func: &ItemFn, push: &mut impl FnMut(Error)) {
    let attr = kind.attr();
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        push(Error::new_spanned(
            sig.fn_token,
            format!("the `async` keyword is missing from the function declaration: {attr} runs an `async fn`"),
        ));
    }
    if !sig.inputs.is_empty() {
        push(Error::new_spanned(
            &sig.inputs,
            format!("{attr} functions take no arguments"),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        push(Error::new_spanned(
            &sig.generics,
            format!("{attr} functions cannot be generic"),
        ));
    }
    if let Kind::Test = kind {
        for a in &func.attrs {
            if a.path().is_ident("test") {
                push(Error::new_spanned(
                    a,
                    "second test attribute: #[loopwork::test] already makes this a test; \
                     remove this `#[test]`",
                ));
            }
        }
    }
}

/// The errors, and a body-less function of the same name so that no
/// follow-on error buries them.
fn with_stub(errors: Error, func: &ItemFn) -> TokenStream2 {
    let errors = errors.into_compile_error();
    let vis = &func.vis;
    let name = &func.sig.ident;
    quote! {
        #errors
        #[allow(dead_code)]
        #vis fn #name() {
            ::core::unreachable!()
        }
    }
}

fn generate(kind: Kind, options: Options, func: ItemFn) -> TokenStream2 {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = func;
    sig.asyncness = None;
    let loops = options.loops.map(|n| quote!(.loops(#n)));
    let debug = options.debug.map(|b| quote!(.debug(#b)));
    let test = match kind {
        Kind::Main => None,
        Kind::Test => Some(quote!(#[::core::prelude::v1::test])),
    };
    // Spanned on the body: a body whose value does not match the return
    // type is reported there, not on the attribute.
    let run = quote_spanned! {block.span()=>
        ::loopwork::__private::block_on(
            ::loopwork::Runtime::builder() #loops #debug,
            body,
        )
    };
    quote! {
        #test
        #(#attrs)*
        #vis #sig {
            let body = async #block;
            #run
        }
    }
}

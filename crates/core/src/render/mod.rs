//! Renderings of the result document for people.

pub mod html;

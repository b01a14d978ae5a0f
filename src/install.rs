//! Laying out locked wheels as a site-packages tree.

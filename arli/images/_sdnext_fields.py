"""The request fields SDNext takes besides the ones our request models declare.

SDNext builds its txt2img/img2img request model from ``StableDiffusionProcessing.__init__``
(238 fields, every one optional, and it ignores any other key). These are its names, as
echoed in a txt2img response's ``parameters`` (``tests/fixtures/wire/examples/
sd_txt2img_response.json``, SDNext master ``058a7f0c``); a name outside them and outside
the declared fields is a typo we refuse (``stepz=10`` would be dropped by the server).
``extra_fields={...}`` sends a field newer than this list.
"""

from __future__ import annotations

__all__ = ["SDNEXT_GENERATION_FIELDS", "SDNEXT_UPSCALE_FIELDS"]

_GENERATION_NAMES = """
    alwayson_scripts batch_size cfg_adaptive cfg_end cfg_image cfg_rescale cfg_scale
    cfg_true clip_skip color_correction_method control_units denoising_strength
    detailer_augment detailer_blur detailer_classes detailer_conf detailer_enabled
    detailer_include_detections detailer_iou detailer_max detailer_max_size detailer_merge
    detailer_min_size detailer_models detailer_negative detailer_padding detailer_prompt
    detailer_resolution detailer_segmentation detailer_sigma_adjust
    detailer_sigma_adjust_max detailer_sort detailer_steps detailer_strength
    diffusers_generator_device diffusers_zeros_prompt_pad do_not_reload_embeddings
    do_not_save_grid do_not_save_samples enable_batch_seeds enable_hr enhance_prompt eta
    eta_noise_seed_delta extra extra_networks_default_multiplier face firstphase_height
    firstphase_width freeu_b1 freeu_b2 freeu_enabled freeu_s1 freeu_s2 grading_brightness
    grading_clahe_clip grading_clahe_grid grading_color_temp grading_contrast grading_gamma
    grading_grain grading_highlights grading_highlights_tint grading_hue grading_lut_file
    grading_lut_strength grading_midtones grading_saturation grading_shadows
    grading_shadows_tint grading_sharpness grading_split_tone_balance grading_vignette
    grid_format grid_save guidance_name guidance_rescale guidance_scale guidance_start
    guidance_stop hdr_apply_hires hdr_boundary hdr_brightness hdr_clamp hdr_color
    hdr_color_picker hdr_max_boundary hdr_max_center hdr_maximize hdr_mode hdr_sharpen
    hdr_threshold hdr_tint_ratio height height_after height_before height_mask hidiffusion
    hr_denoising_strength hr_force hr_refiner_start hr_resize_context hr_resize_mode
    hr_resize_x hr_resize_y hr_sampler_name hr_scale hr_second_pass_steps hr_upscaler
    hypertile_hires_only hypertile_unet_depth hypertile_unet_enabled hypertile_unet_min_tile
    hypertile_unet_swap_size hypertile_unet_tile hypertile_vae_enabled
    hypertile_vae_swap_size hypertile_vae_tile image_metadata img2img_background_color
    img2img_color_correction img2img_fix_steps include_mask init_control init_images
    initial_noise_multiplier inpaint_full_res inpaint_full_res_padding inpainting_fill
    inpainting_mask_invert inpainting_mask_weight ip_adapter jpeg_quality keep_incomplete
    latent_mask lora_apply_tags lora_apply_te lora_force_reload lora_fuse_diffusers
    lora_fuse_native mask mask_apply_overlay mask_blur mask_for_overlay n_iter nan_skip
    negative_prompt network_data overlay_images override_settings
    override_settings_restore_afterwards paste_to prompt prompt_attention prompt_mean_norm
    refiner_negative refiner_prompt refiner_start refiner_steps resize_context
    resize_context_after resize_context_before resize_context_mask resize_mode
    resize_mode_after resize_mode_before resize_mode_mask resize_name resize_name_after
    resize_name_before resize_name_mask return_grid sampler_index sampler_name
    samples_format samples_save save_images save_images_before_color_correction
    save_images_before_detailer save_images_before_highres_fix save_images_before_refiner
    scale_by scale_by_after scale_by_before scale_by_mask scheduler_eta
    schedulers_base_shift schedulers_beta_end schedulers_beta_schedule schedulers_beta_start
    schedulers_dynamic_shift schedulers_max_shift schedulers_prediction_type
    schedulers_rescale_betas schedulers_shift schedulers_sigma schedulers_sigma_adjust
    schedulers_sigma_adjust_max schedulers_sigma_adjust_min schedulers_solver_order
    schedulers_timestep_spacing schedulers_timesteps schedulers_timesteps_range
    schedulers_use_loworder schedulers_use_thresholding script_args script_name
    sd_model_checkpoint seed seed_resize_from_h seed_resize_from_w selected_scale_tab
    selected_scale_tab_after selected_scale_tab_before selected_scale_tab_mask send_images
    sequential_seed skip_processing steps styles subseed subseed_strength
    te_complex_human_instruction te_pooled_embeds te_use_mask teacache_enabled
    teacache_thresh tiling todo_ratio token_merging_method tome_ratio uni_pc_variant
    vae_type width width_after width_before width_mask xyz
"""
#: Every field of SDNext's txt2img/img2img request model.
SDNEXT_GENERATION_FIELDS: frozenset[str] = frozenset(_GENERATION_NAMES.split())

#: Fields of ``/sdapi/v1/extra-single-image`` (``ReqProcessImage``) not declared by
#: :class:`~arli.images.request_models.UpscaleRequest`.
SDNEXT_UPSCALE_FIELDS: frozenset[str] = frozenset({"script_args"})
